#include "tokrl/capi/env_c.h"

#include <exception>
#include <memory>
#include <string>

#include "tokrl/env/registry.h"

struct tokrl_env {
  std::unique_ptr<tokrl::Env> env;
};

namespace {

thread_local std::string last_error;

// Runs f and turns any exception into -1 with the message kept: an exception
// must not cross the C boundary.
template <typename F>
int Guard(F&& f) {
  try {
    f();
    return 0;
  } catch (const std::exception& e) {
    last_error = e.what();
  } catch (...) {
    last_error = "unknown error";
  }
  return -1;
}

int NullArgument(const char* name) {
  last_error = std::string("tokrl_env: null ") + name;
  return -1;
}

tokrl::ObsSpan Obs(tokrl_env* e, uint8_t* obs) {
  return {obs, static_cast<size_t>(e->env->spec().obs_size())};
}

}  // namespace

extern "C" {

const char* tokrl_env_last_error(void) { return last_error.c_str(); }

int tokrl_env_create(const char* id, uint64_t seed, tokrl_env** out) {
  if (id == nullptr) return NullArgument("id");
  if (out == nullptr) return NullArgument("out");
  *out = nullptr;
  return Guard([&] {
    auto e = std::make_unique<tokrl_env>();
    e->env = tokrl::MakeEnv(id);
    e->env->Seed(seed);
    *out = e.release();
  });
}

void tokrl_env_destroy(tokrl_env* env) { delete env; }

int tokrl_env_spec(const tokrl_env* env, int64_t* shape, int32_t* num_actions) {
  if (env == nullptr) return NullArgument("env");
  if (shape == nullptr) return NullArgument("shape");
  if (num_actions == nullptr) return NullArgument("num_actions");
  const tokrl::EnvSpec& spec = env->env->spec();
  if (spec.obs_shape.size() != 3) {
    last_error = "tokrl_env_spec: observation is not {C, H, W}";
    return -1;
  }
  for (int i = 0; i < 3; ++i) shape[i] = spec.obs_shape[i];
  *num_actions = spec.num_actions;
  return 0;
}

int tokrl_env_reset(tokrl_env* env, uint8_t* obs) {
  if (env == nullptr) return NullArgument("env");
  if (obs == nullptr) return NullArgument("obs");
  return Guard([&] { env->env->Reset(Obs(env, obs)); });
}

int tokrl_env_step(tokrl_env* env, int32_t action, uint8_t* obs, float* reward,
                   int32_t* terminated, int32_t* truncated) {
  if (env == nullptr) return NullArgument("env");
  if (obs == nullptr || reward == nullptr || terminated == nullptr ||
      truncated == nullptr) {
    return NullArgument("output pointer");
  }
  return Guard([&] {
    const tokrl::StepResult r = env->env->Step(action, Obs(env, obs));
    *reward = r.reward;
    *terminated = r.terminated ? 1 : 0;
    *truncated = r.truncated ? 1 : 0;
  });
}

}  // extern "C"
