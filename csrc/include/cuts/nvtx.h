// NVTX ranges for Nsight Systems: one around every public call ("cuts_ext.<function>") and one
// around every kernel launch. Compiled in only with CUDA; a no-op otherwise.
#pragma once

#ifdef CUTS_WITH_CUDA
#include <nvtx3/nvToolsExt.h>
#endif

namespace cuts {

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
