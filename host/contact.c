/* contact (placeholder) */
#include "contact.h"
