/* stage1 (placeholder) */
#include "stage1.h"
