// The reference kernels' hot loops are built for several x86-64 levels and the one the CPU can run
// is picked at load time (GCC target_clones), so that they vectorize as wide as the machine allows
// without the build assuming any vendor's extensions; the results are the same on each level.
#pragma once

#if defined(__x86_64__)
#define QATC_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define QATC_TARGET_CLONES
#endif
