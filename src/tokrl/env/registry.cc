#include "tokrl/env/registry.h"

#include <map>
#include <mutex>
#include <sstream>

#include "tokrl/core/check.h"
#include "tokrl/env/minatar/minatar_env.h"
#include "tokrl/env/toy/catch.h"

namespace tokrl {
namespace {

struct Entry {
  std::string description;
  EnvFactory factory;
};

std::map<std::string, Entry>& Registry() {
  static std::map<std::string, Entry> registry;
  return registry;
}

std::mutex& RegistryMutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

void RegisterEnv(const std::string& id, const std::string& description,
                 EnvFactory factory) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  auto [it, inserted] =
      Registry().emplace(id, Entry{description, std::move(factory)});
  TOKRL_CHECK(inserted) << "env '" << id << "' is already registered";
}

void RegisterBuiltinEnvs() {
  static std::once_flag once;
  std::call_once(once, [] {
    minatar::RegisterMinAtarEnvs();
    RegisterCatchEnv();
  });
}

std::vector<EnvInfo> ListEnvs() {
  RegisterBuiltinEnvs();
  std::lock_guard<std::mutex> lock(RegistryMutex());
  std::vector<EnvInfo> out;
  for (const auto& [id, entry] : Registry())
    out.push_back({id, entry.description});
  return out;
}

std::unique_ptr<Env> MakeEnv(const std::string& id, EnvOptions options) {
  RegisterBuiltinEnvs();
  EnvFactory factory;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    auto it = Registry().find(id);
    if (it == Registry().end()) {
      std::ostringstream known;
      for (const auto& [name, entry] : Registry()) {
        known << (known.tellp() > 0 ? ", " : "") << name;
      }
      TOKRL_FAIL() << "unknown env '" << id
                   << "' (registered envs: " << known.str() << ")";
    }
    factory = it->second.factory;
  }
  std::unique_ptr<Env> env;
  try {
    env = factory(options);
  } catch (const Error& e) {
    TOKRL_FAIL() << "bad option for env '" << id << "': " << e.what();
  }
  options.Finish(id);
  return env;
}

std::unique_ptr<Env> MakeEnv(const std::string& id_with_options) {
  auto [id, options] = ParseEnvId(id_with_options);
  return MakeEnv(id, std::move(options));
}

}  // namespace tokrl
