// Diffusion condensation: the front of the engine (engine.h). make_condenser validates the
// points and parameters and routes to the points' device: host arrays to the CPU engine
// (cpu/condense_cpu.cpp), CUDA arrays to the CUDA engine (cuda/condense_cuda.cu) on their own
// device and on `stream`. Only the bindings call it; the Python layer
// (cuts_ext/condensation/driver.py) then drives the engine one step at a time and picks the
// diffusion time from the kernel graph's spectrum.
//
//   points   [N, C] float32 / float64, CPU or CUDA; at least one column when N > 0
//   decay    the alpha-decay exponent: a positive number
//   thresh   affinities below it are dropped: in (0, 1)
//   stream   CUDA points: the stream every step runs on, which must outlive the engine; ignored
//            on the CPU
//
// Throws InvalidArgument for a malformed array or parameter, DeviceError where the device cannot
// run it.
#pragma once

#include <memory>

#include "condense/engine.h"
#include "core/array.h"

namespace cuts {

std::unique_ptr<Condenser> make_condenser(const ArrayView& points, double decay, double thresh,
                                          StreamHandle stream);

}  // namespace cuts
