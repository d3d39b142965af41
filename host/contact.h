#ifndef PP_CONTACT_H
#define PP_CONTACT_H
#endif
