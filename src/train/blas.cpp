#include "bnlandscape/train/blas.h"

#include <dlfcn.h>

namespace bnl::train {

const Cblas& cblas() {
  static const Cblas c = [] {
    Cblas out;
    out.sdot = reinterpret_cast<Cblas::Sdot>(dlsym(RTLD_DEFAULT, "cblas_sdot"));
    out.saxpy = reinterpret_cast<Cblas::Saxpy>(dlsym(RTLD_DEFAULT, "cblas_saxpy"));
    out.sgemm = reinterpret_cast<Cblas::Sgemm>(dlsym(RTLD_DEFAULT, "cblas_sgemm"));
    return out;
  }();
  return c;
}

}  // namespace bnl::train
