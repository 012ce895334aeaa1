// The write path shared by remove() and prune(): delete rows in one BEGIN IMMEDIATE
// transaction, commit, then delete the files those rows owned (artifact_deleter.h).
#pragma once
#include <napi.h>

#include <functional>

#include "artifact_deleter.h"
#include "cache_state.h"
#include "catalog.h"

namespace msb {

struct RemovalOutcome {
  bool haveDatabase = false;
  RowRemoval rows;
  DeletionReport files;
};

RemovalOutcome RunRemoval(CacheState& state, CancelFlag cancel, const std::function<RowRemoval(Connection&)>& deleteRows);

// The report object both operations resolve with (the facade adds nothing but types).
Napi::Object RemovalToJs(Napi::Env env, const RemovalOutcome& outcome);

}  // namespace msb
