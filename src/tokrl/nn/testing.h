// Shared gtest helpers for the tokrl::nn module tests (style.md 8.4 "Module
// tests"): gradient coverage, deep clone, save/load round trip. Test-only:
// included by *_test.cc files, never by the library.
#ifndef TOKRL_NN_TESTING_H_
#define TOKRL_NN_TESTING_H_

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

namespace tokrl::nn::testing {

// Every parameter has a defined, finite gradient with at least one non-zero
// entry. Call after loss.backward().
inline void ExpectEveryParameterHasNonzeroGrad(const torch::nn::Module& m) {
  for (const auto& p : m.named_parameters()) {
    const at::Tensor& g = p.value().grad();
    ASSERT_TRUE(g.defined()) << "no gradient for " << p.key();
    EXPECT_TRUE(torch::isfinite(g).all().item<bool>())
        << "non-finite gradient for " << p.key();
    EXPECT_GT(g.abs().sum().item<double>(), 0.0)
        << "zero gradient for " << p.key();
  }
}

// The clone has equal values but its own storage for every parameter and
// buffer, and modifying the original does not touch the clone.
inline void ExpectDeepClone(torch::nn::Module& original,
                            torch::nn::Module& copy) {
  const auto a = original.named_parameters();
  const auto b = copy.named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& p : a) {
    const at::Tensor& q = b[p.key()];
    EXPECT_TRUE(torch::equal(p.value(), q)) << p.key();
    EXPECT_NE(p.value().data_ptr(), q.data_ptr()) << p.key();
  }
  const auto ba = original.named_buffers();
  const auto bb = copy.named_buffers();
  ASSERT_EQ(ba.size(), bb.size());
  for (const auto& p : ba) {
    const at::Tensor& q = bb[p.key()];
    EXPECT_TRUE(torch::equal(p.value(), q)) << p.key();
    EXPECT_NE(p.value().data_ptr(), q.data_ptr()) << p.key();
  }
  {
    torch::NoGradGuard no_grad;
    for (auto& p : original.parameters()) p.add_(1.0);
  }
  for (const auto& p : a) {
    EXPECT_FALSE(torch::equal(p.value(), b[p.key()])) << p.key();
  }
}

// A fresh path in the temp directory, removed by the destructor.
class TempFile {
 public:
  explicit TempFile(const std::string& stem) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("tokrl_nn_" + stem + "_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter++) + ".pt");
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace tokrl::nn::testing

#endif  // TOKRL_NN_TESTING_H_
