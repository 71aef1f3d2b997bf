#ifndef CELLA_CSECCOMP_SHIM_H
#define CELLA_CSECCOMP_SHIM_H
#include <seccomp.h>
#endif
