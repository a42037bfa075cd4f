#include "bnlandscape/dist/communicator.h"

// The c10d Gloo declarations are compiled only with this macro, as in libtorch's own build.
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>

namespace bnl::dist {

struct Communicator::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

namespace {

std::string seconds(std::chrono::milliseconds t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(t.count()) / 1000.0);
  return buf;
}

std::string what_of(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

bool loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// The interface Gloo binds to: GLOO_SOCKET_IFNAME as in PyTorch, the loopback address when
// every rank is on this machine, else the address this host's name resolves to.
std::shared_ptr<::gloo::transport::Device> device_for(const std::string& master_addr) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (loopback(master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

c10::intrusive_ptr<c10d::ProcessGroupGloo> make_group(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                      int world, std::chrono::milliseconds timeout,
                                                      const std::string& host) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(device_for(host));
  // One Gloo worker thread: probes issue one collective at a time.
  options->threads = 1;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options);
}

}  // namespace

Communicator::Communicator(std::unique_ptr<Impl> impl, int rank, int world_size, std::chrono::milliseconds timeout)
    : impl_(std::move(impl)), rank_(rank), world_size_(world_size), timeout_(timeout) {}

Communicator::~Communicator() = default;

std::unique_ptr<Communicator> Communicator::connect(const DistEnv& env, std::chrono::milliseconds timeout) {
  if (env.world_size < 2) throw std::invalid_argument("Communicator::connect: expected a world of 2 or more ranks, got 1");
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  auto impl = std::make_unique<Impl>();
  try {
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(env.master_port);
    o.isServer = env.rank == 0;
    o.numWorkers = static_cast<std::size_t>(env.world_size);
    o.waitWorkers = true;
    o.timeout = timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
    impl->group = make_group(impl->store, env.rank, env.world_size, timeout, env.master_addr);
  } catch (const std::exception& e) {
    throw DistError("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                    ": could not reach the other ranks through " + where + " within --dist-timeout " +
                    seconds(timeout) + " s (" + what_of(e) + ")");
  }
  return std::unique_ptr<Communicator>(new Communicator(std::move(impl), env.rank, env.world_size, timeout));
}

std::unique_ptr<Communicator> Communicator::connect_file(const std::string& path, int rank, int world_size,
                                                         std::chrono::milliseconds timeout) {
  if (world_size < 1 || rank < 0 || rank >= world_size)
    throw std::invalid_argument("Communicator::connect_file: expected 0 <= rank < world_size, got rank " +
                                std::to_string(rank) + " of " + std::to_string(world_size));
  auto impl = std::make_unique<Impl>();
  try {
    auto store = c10::make_intrusive<c10d::FileStore>(path, world_size);
    store->setTimeout(timeout);
    impl->store = store;
    impl->group = make_group(impl->store, rank, world_size, timeout, "127.0.0.1");
  } catch (const std::exception& e) {
    throw DistError("rank " + std::to_string(rank) + " of " + std::to_string(world_size) +
                    ": could not reach the other ranks through the file " + path + " within " + seconds(timeout) +
                    " s (" + what_of(e) + ")");
  }
  return std::unique_ptr<Communicator>(new Communicator(std::move(impl), rank, world_size, timeout));
}

void Communicator::average(torch::Tensor& t) {
  sum(t);
  t.div_(static_cast<double>(world_size_));
}

void Communicator::sum(torch::Tensor& t) {
  TORCH_CHECK(t.defined() && t.device().is_cpu() && t.is_floating_point(),
              "Communicator::sum: expected a defined CPU floating tensor, got ",
              t.defined() ? t.toString() : std::string("an undefined tensor"));
  if (!t.is_contiguous()) t = t.contiguous();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<at::Tensor> buf{t};
  try {
    impl_->group->allreduce(buf)->wait(timeout_);
  } catch (const std::exception& e) {
    throw DistError("rank " + std::to_string(rank_) + " of " + std::to_string(world_size_) +
                    ": all-reduce failed (a peer exited or did not answer within --dist-timeout " + seconds(timeout_) +
                    " s): " + what_of(e));
  }
  ++allreduce_count_;
  allreduce_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void Communicator::barrier() {
  try {
    impl_->group->barrier()->wait(timeout_);
  } catch (const std::exception& e) {
    throw DistError("rank " + std::to_string(rank_) + " of " + std::to_string(world_size_) + ": barrier failed: " +
                    what_of(e));
  }
}

}  // namespace bnl::dist
