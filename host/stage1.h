#ifndef PP_STAGE1_H
#define PP_STAGE1_H
#endif
