#include "tokrl/env/registry.h"

#include <gtest/gtest.h>

#include "tokrl/core/check.h"

namespace tokrl {
namespace {

std::string ErrorOf(const std::string& id) {
  try {
    MakeEnv(id);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Registry, ListsTheBuiltinEnvs) {
  std::vector<std::string> ids;
  for (const auto& info : ListEnvs()) ids.push_back(info.id);
  for (const char* id :
       {"minatar/asterix", "minatar/breakout", "minatar/freeway",
        "minatar/seaquest", "minatar/space_invaders", "toy/catch"}) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
  }
}

TEST(Registry, MakesEnvsWithOptions) {
  auto env = MakeEnv("minatar/breakout(minimal_actions=true,sticky=0)");
  EXPECT_EQ(env->spec().num_actions, 3);
  EXPECT_EQ(env->spec().id, "minatar/breakout(minimal_actions=true,sticky=0)");
  EXPECT_EQ(env->spec().obs_shape, (std::vector<int64_t>{4, 10, 10}));
  EXPECT_EQ(MakeEnv("minatar/seaquest")->spec().obs_shape[0], 10);
  EXPECT_EQ(MakeEnv("toy/catch(rows=6,columns=3)")->spec().obs_shape,
            (std::vector<int64_t>{2, 6, 3}));
}

TEST(Registry, CanonicalIdRecreatesTheEnv) {
  auto env = MakeEnv("minatar/freeway(max_episode_steps=100,ramping=false)");
  auto again = MakeEnv(env->spec().id);
  EXPECT_EQ(again->spec().id, env->spec().id);
  EXPECT_EQ(again->spec().max_episode_steps, 100);
}

TEST(Registry, UnknownEnvListsRegisteredIds) {
  const std::string msg = ErrorOf("minatar/pong");
  EXPECT_NE(msg.find("unknown env 'minatar/pong'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("minatar/breakout"), std::string::npos) << msg;
}

TEST(Registry, BadOptionsAreNamed) {
  EXPECT_NE(ErrorOf("minatar/breakout(sticky=2)").find("'sticky'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("minatar/breakout(ramping=perhaps)").find("'ramping'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("minatar/breakout(stiky=0)").find("unknown option 'stiky'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("toy/catch(rows=1)").find("'rows'"), std::string::npos);
}

TEST(Registry, DuplicateRegistrationIsRejected) {
  RegisterBuiltinEnvs();
  EXPECT_THROW(RegisterEnv("toy/catch", "again", nullptr), Error);
}

}  // namespace
}  // namespace tokrl
