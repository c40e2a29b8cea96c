// The env registry: ids like "minatar/breakout" mapped to factories.
//
//   auto env = MakeEnv("minatar/breakout(sticky=0,minimal_actions=true)");
//   auto env = MakeEnv("minatar/breakout", options);   // EnvOptions form
//
// Built-in envs are registered by RegisterBuiltinEnvs(), which every public
// entry point calls (no static registrars that a linker could drop). An
// unknown id, an unknown option or a bad option value throws tokrl::Error;
// the unknown-id message lists the registered ids.
#ifndef TOKRL_ENV_REGISTRY_H_
#define TOKRL_ENV_REGISTRY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tokrl/env/env.h"
#include "tokrl/env/env_options.h"

namespace tokrl {

// A factory reads its options with EnvOptions getters; the registry calls
// options.Finish(id) afterwards to reject unread keys.
using EnvFactory = std::function<std::unique_ptr<Env>(EnvOptions& options)>;

struct EnvInfo {
  std::string id;
  std::string description;
};

// Adds an env. Throws if `id` is already registered.
void RegisterEnv(const std::string& id, const std::string& description,
                 EnvFactory factory);

// A family of envs "<prefix>/<name>" with an open set of names (ALE games,
// one per ROM): MakeEnv calls the factory with the name for any id under the
// prefix that is not registered by itself. ListEnvs shows it as
// "<prefix>/<game>".
using EnvFamilyFactory = std::function<std::unique_ptr<Env>(
    const std::string& name, EnvOptions& options)>;
void RegisterEnvFamily(const std::string& prefix,
                       const std::string& description,
                       EnvFamilyFactory factory);

std::unique_ptr<Env> MakeEnv(const std::string& id_with_options);
std::unique_ptr<Env> MakeEnv(const std::string& id, EnvOptions options);

// The spec to check a config against (the sweep's pre-launch check, the
// preset tests): the env's own, or, for an ale/ id in a build without ALE,
// ale::NominalAleSpec (Dopamine's {1, 84, 84}, 18 actions).
EnvSpec SpecForConfigChecks(const std::string& id_with_options);

// All registered envs, sorted by id.
std::vector<EnvInfo> ListEnvs();

void RegisterBuiltinEnvs();

}  // namespace tokrl

#endif  // TOKRL_ENV_REGISTRY_H_
