#include "tokrl/env/registry.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <sstream>

#include "tokrl/core/check.h"
#include "tokrl/env/ale/ale_env.h"
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

struct Family {
  std::string description;
  EnvFamilyFactory factory;
};

std::map<std::string, Family>& Families() {
  static std::map<std::string, Family> families;
  return families;
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

void RegisterEnvFamily(const std::string& prefix,
                       const std::string& description,
                       EnvFamilyFactory factory) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  auto [it, inserted] =
      Families().emplace(prefix, Family{description, std::move(factory)});
  TOKRL_CHECK(inserted) << "env family '" << prefix
                        << "' is already registered";
}

void RegisterBuiltinEnvs() {
  static std::once_flag once;
  std::call_once(once, [] {
    minatar::RegisterMinAtarEnvs();
    RegisterCatchEnv();
    ale::RegisterAleEnvs();
  });
}

std::vector<EnvInfo> ListEnvs() {
  RegisterBuiltinEnvs();
  std::lock_guard<std::mutex> lock(RegistryMutex());
  std::vector<EnvInfo> out;
  for (const auto& [id, entry] : Registry())
    out.push_back({id, entry.description});
  for (const auto& [prefix, family] : Families())
    out.push_back({prefix + "/<game>", family.description});
  std::sort(out.begin(), out.end(),
            [](const EnvInfo& a, const EnvInfo& b) { return a.id < b.id; });
  return out;
}

std::unique_ptr<Env> MakeEnv(const std::string& id, EnvOptions options) {
  RegisterBuiltinEnvs();
  EnvFactory factory;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    auto it = Registry().find(id);
    const auto slash = id.find('/');
    const auto family = slash == std::string::npos
                            ? Families().end()
                            : Families().find(id.substr(0, slash));
    if (it == Registry().end() && family != Families().end() &&
        slash + 1 < id.size()) {
      factory = [f = family->second.factory, name = id.substr(slash + 1)](
                    EnvOptions& o) { return f(name, o); };
    } else if (it == Registry().end()) {
      std::ostringstream known;
      for (const auto& [name, entry] : Registry()) {
        known << (known.tellp() > 0 ? ", " : "") << name;
      }
      for (const auto& [prefix, f] : Families()) {
        known << ", " << prefix << "/<game>";
      }
      TOKRL_FAIL() << "unknown env '" << id
                   << "' (registered envs: " << known.str() << ")";
    } else {
      factory = it->second.factory;
    }
  }
  std::unique_ptr<Env> env;
  try {
    env = factory(options);
  } catch (const Error& e) {
    TOKRL_FAIL() << "env '" << id << "': " << e.what();
  }
  options.Finish(id);
  return env;
}

EnvSpec SpecForConfigChecks(const std::string& id_with_options) {
  if (id_with_options.rfind("ale/", 0) == 0 && !ale::AleAvailable()) {
    return ale::NominalAleSpec(id_with_options);
  }
  return MakeEnv(id_with_options)->spec();
}

std::unique_ptr<Env> MakeEnv(const std::string& id_with_options) {
  auto [id, options] = ParseEnvId(id_with_options);
  return MakeEnv(id, std::move(options));
}

}  // namespace tokrl
