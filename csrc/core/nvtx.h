// NVTX ranges for Nsight Systems: one around every public call ("cuts_ext.<function>") and one
// around every kernel launch. Compiled in only with CUDA; a no-op otherwise.
#pragma once

#ifdef CUTS_WITH_CUDA
#include <nvtx3/nvToolsExt.h>
#endif

namespace cuts {

// Explicit push / pop, for ranges opened by the Python layer (cuts_ext.condense).
#ifdef CUTS_WITH_CUDA
inline void nvtx_push(const char* name) { nvtxRangePushA(name); }
inline void nvtx_pop() { nvtxRangePop(); }
#else
inline void nvtx_push(const char*) {}
inline void nvtx_pop() {}
#endif

class NvtxRange {
 public:
#ifdef CUTS_WITH_CUDA
  explicit NvtxRange(const char* name) { nvtxRangePushA(name); }
  ~NvtxRange() { nvtxRangePop(); }
#else
  explicit NvtxRange(const char*) {}
#endif
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace cuts
