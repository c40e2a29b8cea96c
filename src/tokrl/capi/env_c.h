// A C ABI over tokrl's environments (MinAtar and anything else in the
// registry), for callers outside C++: bench/peer/peer.py loads it with
// Python's ctypes so that the PyTorch peer plays exactly tokrl's MinAtar.
//
// Contracts:
//   * Every function returns 0 on success and -1 on failure; after a failure
//     tokrl_env_last_error() returns the message (thread-local, valid until
//     the next call on that thread). No function throws or aborts.
//   * Observations are uint8 in {C, H, W} row-major order, spec obs_size
//     bytes; callers pass a buffer of at least that size.
//   * Stepping a finished episode is the env's own rule (MinAtar: frozen,
//     reward 0); the caller resets.
//   * A handle is not thread-safe; distinct handles are independent.
#ifndef TOKRL_CAPI_ENV_C_H_
#define TOKRL_CAPI_ENV_C_H_

#include <stdint.h>

#if defined(__GNUC__)
#define TOKRL_CAPI __attribute__((visibility("default")))
#else
#define TOKRL_CAPI
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tokrl_env tokrl_env;

TOKRL_CAPI const char* tokrl_env_last_error(void);
// id: a registry id with options, e.g. "minatar/breakout(sticky=0.1)".
TOKRL_CAPI int tokrl_env_create(const char* id, uint64_t seed, tokrl_env** out);
TOKRL_CAPI void tokrl_env_destroy(tokrl_env* env);
// shape: 3 entries {C, H, W}.
TOKRL_CAPI int tokrl_env_spec(const tokrl_env* env, int64_t* shape,
                              int32_t* num_actions);
TOKRL_CAPI int tokrl_env_reset(tokrl_env* env, uint8_t* obs);
// terminated / truncated receive 0 or 1.
TOKRL_CAPI int tokrl_env_step(tokrl_env* env, int32_t action, uint8_t* obs,
                              float* reward, int32_t* terminated,
                              int32_t* truncated);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // TOKRL_CAPI_ENV_C_H_
