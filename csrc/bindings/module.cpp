// The pybind11 module cuts_ext._C: the only code that knows Python. Arrays arrive as the tuples
// that cuts_ext/_arrays.py builds, (data_pointer, shape, dtype, device, device_index); outputs
// are allocated by the Python layer (on the input's device, with the input's library) and passed
// in. Every call releases the GIL while kernels run.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>

#include "coarsen/coarsen.h"
#include "condense/condense.h"
#include "condense/spectrum_blocks.h"
#include "core/array.h"
#include "core/build_info.h"
#include "core/errors.h"
#include "core/nvtx.h"
#include "pairs/pairs.h"
#include "patches/patches.h"

namespace py = pybind11;
using namespace cuts;

namespace {

DType parse_dtype(const std::string& name, const char* argument) {
  if (name == "float32") return DType::Float32;
  if (name == "float64") return DType::Float64;
  if (name == "int32") return DType::Int32;
  if (name == "int64") return DType::Int64;
  if (name == "uint8") return DType::UInt8;
  throw InvalidArgument(std::string(argument) + " has unsupported dtype " + name);
}

ArrayView to_view(const py::tuple& t, const char* argument) {
  if (t.size() != 5) throw InvalidArgument(std::string(argument) + ": malformed array descriptor");
  ArrayView v;
  v.data = reinterpret_cast<void*>(t[0].cast<uintptr_t>());
  v.shape = t[1].cast<std::vector<int64_t>>();
  v.dtype = parse_dtype(t[2].cast<std::string>(), argument);
  const std::string device = t[3].cast<std::string>();
  if (device != "cpu" && device != "cuda")
    throw InvalidArgument(std::string(argument) + " is on unsupported device " + device);
  v.device = device == "cuda" ? Device::CUDA : Device::CPU;
  v.device_index = t[4].cast<int>();
  return v;
}

std::optional<ArrayView> optional_view(const py::object& o, const char* argument) {
  if (o.is_none()) return std::nullopt;
  return to_view(o.cast<py::tuple>(), argument);
}

StreamHandle to_stream(uintptr_t stream) { return reinterpret_cast<StreamHandle>(stream); }

template <class T>
py::array_t<T> to_numpy(std::vector<T>&& values, std::vector<py::ssize_t> shape) {
  auto* owner = new std::vector<T>(std::move(values));
  py::capsule free_when_done(owner, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, owner->data(), free_when_done);
}

PairOptions pair_options(int64_t n_anchors, int size, int radius, int attempts, double ssim_min,
                         double data_range, uint64_t seed) {
  PairOptions o;
  o.n_anchors = n_anchors;
  o.size = size;
  o.radius = radius;
  o.attempts = attempts;
  o.ssim_min = ssim_min;
  o.data_range = data_range;
  o.seed = seed;
  return o;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "cuts_ext compiled core (C++/OpenMP and CUDA kernels)";

  // InvalidArgument (std::invalid_argument) and DeviceError (std::runtime_error) map to ValueError
  // and RuntimeError by pybind11's defaults; OutOfMemory needs its own translation.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const OutOfMemory& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });

  // Read without touching the CUDA runtime: `import cuts_ext` must not initialise a driver that
  // forked workers (Dask, DataLoader) would then inherit.
  m.attr("__version__") = CUTS_VERSION;

  m.def("build_info", [] {
    const CudaStatus cuda = cuda_status();
    py::dict d;
    d["version"] = CUTS_VERSION;
    d["cuda_compiled"] = cuda.compiled;
#ifdef CUTS_WITH_CUDA
    d["cuda_version"] = CUTS_CUDA_VERSION;
    d["cuda_architectures"] = CUTS_CUDA_ARCHS;
#else
    d["cuda_version"] = py::none();
    d["cuda_architectures"] = "";
#endif
    d["cuda_device_count"] = cuda.device_count;
    d["cuda_unavailable_reason"] = cuda.reason;
#ifdef CUTS_WITH_OPENMP
    d["openmp"] = true;
#else
    d["openmp"] = false;
#endif
    d["openmp_max_threads"] = openmp_max_threads();
    return d;
  }, "What was compiled in and what is usable now (see cuts_ext.build_info).");

  m.def("_nvtx_push", [](const std::string& name) { nvtx_push(name.c_str()); },
        "Opens an NVTX range (a no-op without CUDA); close it with _nvtx_pop.");
  m.def("_nvtx_pop", [] { nvtx_pop(); });

  m.def("require_cuda", [](const std::string& argument) { require_cuda(argument.c_str()); },
        "Raises RuntimeError naming `argument` unless a CUDA GPU can run kernels now.");

  m.def("extract_patches_shape",
        [](const py::tuple& images, int size, const py::object& centers) {
          const auto c = optional_view(centers, "centers");
          return extract_patches_shape(to_view(images, "images"), size, c ? &*c : nullptr);
        });
  m.def("extract_patches",
        [](const py::tuple& images, int size, const py::object& centers, const py::tuple& out,
           uintptr_t stream) {
          const ArrayView in = to_view(images, "images"), o = to_view(out, "out");
          const auto c = optional_view(centers, "centers");
          py::gil_scoped_release release;
          extract_patches(in, size, c ? &*c : nullptr, o, to_stream(stream));
        });

  m.def("_patch_ssim",
        [](const py::tuple& images, int size, double data_range, const py::tuple& pairs) {
          return patch_ssim_of_pairs(to_view(images, "images"), size, data_range,
                                     to_view(pairs, "pairs"));
        }, "Test hook: the sampler's SSIM of listed patch pairs (CPU only).");
  m.def("sample_pairs_shape",
        [](const py::tuple& images, int64_t n_anchors, int size, int radius, int attempts,
           double ssim_min, double data_range, uint64_t seed) {
          return sample_pairs_shape(to_view(images, "images"),
                                    pair_options(n_anchors, size, radius, attempts, ssim_min,
                                                 data_range, seed));
        });
  m.def("sample_pairs",
        [](const py::tuple& images, int64_t n_anchors, int size, int radius, int attempts,
           double ssim_min, double data_range, uint64_t seed, const py::tuple& anchors,
           const py::tuple& positives, uintptr_t stream) {
          const ArrayView in = to_view(images, "images"), a = to_view(anchors, "anchors"),
                          p = to_view(positives, "positives");
          const PairOptions o = pair_options(n_anchors, size, radius, attempts, ssim_min,
                                             data_range, seed);
          py::gil_scoped_release release;
          sample_pairs(in, o, a, p, to_stream(stream));
        });

  // Super-voxels for condensation (cuts_ext/condensation/coarsen.py): labels are written into
  // `labels`; the counts [K] and means [K, F] come back as numpy arrays on the host.
  m.def("coarsen",
        [](const py::tuple& features, const std::vector<int64_t>& spatial_shape,
           const py::object& foreground, int64_t max_points, double compactness, int iterations,
           const py::tuple& labels, uintptr_t stream) {
          const ArrayView f = to_view(features, "features"), l = to_view(labels, "labels");
          const auto mask = optional_view(foreground, "foreground");
          CoarsenOptions options;
          options.max_points = max_points;
          options.compactness = compactness;
          options.iterations = iterations;
          Coarsening c;
          {
            py::gil_scoped_release release;
            c = coarsen(f, spatial_shape, mask ? &*mask : nullptr, options, l, to_stream(stream));
          }
          const py::ssize_t k = c.count, width = f.shape[1];
          return py::make_tuple(to_numpy(std::move(c.counts), {k}),
                                to_numpy(std::move(c.means), {k, width}));
        });

  // The condensation engine, driven step by step by cuts_ext/condensation/driver.py. Every step
  // releases the GIL; results come back as numpy arrays on the host.
  py::class_<Condenser>(m, "Condenser")
      .def(py::init([](const py::tuple& points, double decay, double thresh, uintptr_t stream) {
             const ArrayView x = to_view(points, "X");
             py::gil_scoped_release release;
             return make_condenser(x, decay, thresh, to_stream(stream));
           }))
      .def("size", &Condenser::size)
      .def("set_weights", &Condenser::set_weights, py::call_guard<py::gil_scoped_release>())
      .def("dims", &Condenser::dims)
      .def("adaptive_kernel", &Condenser::adaptive_kernel, py::call_guard<py::gil_scoped_release>())
      .def("fixed_kernel", &Condenser::fixed_kernel, py::call_guard<py::gil_scoped_release>())
      .def("diffuse", &Condenser::diffuse, py::call_guard<py::gil_scoped_release>())
      .def("merge", &Condenser::merge, py::call_guard<py::gil_scoped_release>())
      .def("smallest_pair_distances", [](Condenser& c, int64_t count) {
        std::vector<double> d;
        {
          py::gil_scoped_release release;
          d = c.smallest_pair_distances(count);
        }
        const py::ssize_t n = static_cast<py::ssize_t>(d.size());
        return to_numpy(std::move(d), {n});
      })
      .def("kernel_graph", [](const Condenser& c) {
        KernelGraph g;
        {
          py::gil_scoped_release release;
          g = c.kernel_graph();
        }
        const py::ssize_t rows = static_cast<py::ssize_t>(g.row_ptr.size());
        const py::ssize_t edges = static_cast<py::ssize_t>(g.cols.size());
        return py::make_tuple(to_numpy(std::move(g.row_ptr), {rows}),
                              to_numpy(std::move(g.cols), {edges}),
                              to_numpy(std::move(g.values), {edges}));
      })
      .def("spectrum_blocks", [](const Condenser& c, int64_t exact_limit) {
        SpectrumBlocks b;
        {
          py::gil_scoped_release release;
          b = c.spectrum_blocks(exact_limit);
        }
        auto vector = [](auto&& v) {
          const py::ssize_t n = static_cast<py::ssize_t>(v.size());
          return to_numpy(std::move(v), {n});
        };
        py::dict out;
        out["block"] = vector(std::move(b.block));
        out["sizes"] = vector(std::move(b.sizes));
        out["degree"] = vector(std::move(b.degree));
        out["edges"] = b.edges;
        out["rows"] = vector(std::move(b.rows));
        out["cols"] = vector(std::move(b.cols));
        out["values"] = vector(std::move(b.values));
        return out;
      }, py::arg("exact_limit"))
      .def("gram_product", [](const Condenser& c, py::array_t<double, py::array::c_style> v) {
        if (v.ndim() != 2 || v.shape(0) != c.size())
          throw InvalidArgument("gram_product: the block must be [M, columns]");
        const int64_t columns = v.shape(1);
        std::vector<double> in(v.data(), v.data() + v.size()), out;
        {
          py::gil_scoped_release release;
          out = c.gram_product(in, columns);
        }
        return to_numpy(std::move(out), {static_cast<py::ssize_t>(c.size()),
                                         static_cast<py::ssize_t>(columns)});
      })
      .def("lanczos", [](const Condenser& c, py::array_t<double, py::array::c_style> v,
                         int64_t steps) {
        if (v.ndim() != 2 || v.shape(0) != c.size())
          throw InvalidArgument("lanczos: the probe block must be [M, columns]");
        const int64_t columns = v.shape(1);
        std::vector<double> in(v.data(), v.data() + v.size());
        LanczosCoefficients out;
        {
          py::gil_scoped_release release;
          out = c.lanczos(in, columns, steps);
        }
        const py::ssize_t rows = static_cast<py::ssize_t>(steps), width = columns;
        return py::make_tuple(to_numpy(std::move(out.alphas), {rows, width}),
                              to_numpy(std::move(out.betas), {rows, width}));
      }, py::arg("probes"), py::arg("steps"))
      .def("transfers", [](const Condenser& c) {
        const TransferCounts t = c.transfers();
        py::dict out;
        out["to_device_bytes"] = t.to_device_bytes;
        out["to_host_bytes"] = t.to_host_bytes;
        out["copies"] = t.copies;
        return out;
      })
      .def("labels", [](const Condenser& c) {
        auto l = c.labels();
        const py::ssize_t n = static_cast<py::ssize_t>(l.size());
        return to_numpy(std::move(l), {n});
      })
      .def("points", [](const Condenser& c) {
        const py::ssize_t m = c.size(), d = c.dims();
        return to_numpy(c.points(), {m, d});
      })
      .def("weights", [](const Condenser& c) {
        const py::ssize_t m = c.size();
        return to_numpy(c.weights(), {m});
      });
}
