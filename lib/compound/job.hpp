#pragma once

#include "core/engine_core.hpp"

namespace ringfile::detail {

// A compound op (send_to, copy_to, copy_file, read_file, write_file,
// write_file_atomic, open_at's walk): ops in a row, each submitted from the
// previous one's completion, long after the call that started the job returned.
// A Job captures that call's context when it is made (today the OpTimeout; the
// I/O class belongs there too), and each step is submitted inside step_scope(),
// so every step keeps the promise the first one was given.
struct Job {
  // `core` may be null (a File or Engine with no engine behind it): such a job
  // fails before its first step.
  explicit Job(EngineCore* core) noexcept : core(core), context_(core ? core->job_context() : EngineCore::JobContext{}) {}

  // Held while a step is submitted: the job's context in place of the caller's.
  [[nodiscard]] EngineCore::InContext step_scope() const noexcept { return {*core, context_}; }

  EngineCore* core;

 private:
  EngineCore::JobContext context_;
};

}  // namespace ringfile::detail
