/* abi_layout.c - the layout assertions compiled as C. */
#include "abi_layout.h"
int abi_layout_c(void);
int abi_layout_c(void)
{
    return 0;
}
