#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace ringfile::detail {

// What a compound op keeps beside the core, per file (write_durable's group
// commit, copy_to's refused pairs) or per engine (send_to's pipes): made by the
// feature on first use, destroyed with the file or the engine. The core holds the
// slots and never looks inside.
struct FeatureState {
  virtual ~FeatureState() = default;
};
enum class FileFeature : std::uint8_t { DurableWrites, Copies, Count };
enum class EngineFeature : std::uint8_t { SendPipes, Count };

template <class Feature>
using FeatureSlots = std::unique_ptr<FeatureState>[static_cast<std::size_t>(Feature::Count)];

template <class State, class Feature>
State& state_in(FeatureSlots<Feature>& slots, Feature feature) {
  auto& slot = slots[static_cast<std::size_t>(feature)];
  if (!slot) slot = std::make_unique<State>();
  return static_cast<State&>(*slot);
}

}  // namespace ringfile::detail
