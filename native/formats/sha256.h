// SHA-256 (FIPS 180-4), needed for one thing: msb names a reference's cached metadata
// manifests/<hex(sha256(normalized reference))>.json. Small inputs; clarity over speed.
#pragma once
#include <string>
#include <string_view>

namespace msb {
std::string Sha256Hex(std::string_view data);
}
