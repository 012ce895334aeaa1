#include "formats/erofs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace msb {
namespace {

uint16_t Le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t Le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

constexpr size_t kSuperblockSize = 128;
constexpr size_t kDeviceSlotSize = 128;

}  // namespace

ErofsInfo InspectErofs(const ReadAt& read, uint64_t fileSize) {
  ErofsInfo info;
  uint8_t sb[kSuperblockSize];
  if (fileSize < kErofsSuperblockOffset + kSuperblockSize ||
      read(kErofsSuperblockOffset, sb, sizeof sb) != long(sizeof sb)) {
    info.problem = "too short for an EROFS superblock";
    return info;
  }
  if (Le32(sb) != kErofsMagic) {
    info.problem = "bad EROFS magic";
    return info;
  }
  info.blkszbits = sb[0x0C];
  info.rootNid = Le16(sb + 0x0E);
  info.blocks = Le32(sb + 0x24);
  info.metaBlkaddr = Le32(sb + 0x28);
  info.featureIncompat = Le32(sb + 0x50);
  uint16_t extraDevices = Le16(sb + 0x56);
  uint16_t devtSlotoff = Le16(sb + 0x58);
  if (info.blkszbits < 9 || info.blkszbits > 16) {
    info.problem = "unsupported EROFS block size";
    return info;
  }
  info.imageBytes = uint64_t(info.blocks) << info.blkszbits;

  if (extraDevices > 0 && extraDevices <= kMaxErofsDevices) {
    std::vector<uint8_t> table(size_t(extraDevices) * kDeviceSlotSize);
    uint64_t tableOffset = uint64_t(devtSlotoff) * kDeviceSlotSize;
    if (tableOffset + table.size() <= fileSize && read(tableOffset, table.data(), table.size()) == long(table.size())) {
      for (uint16_t i = 0; i < extraDevices; i++) {
        const uint8_t* slot = table.data() + size_t(i) * kDeviceSlotSize;
        info.devices.push_back({Le32(slot + 0x40), Le32(slot + 0x44)});
      }
    }
  }

  if (fileSize == 0 || fileSize % 4096 != 0) {
    info.problem = "length is not a positive multiple of 4096";
    return info;
  }
  if (info.imageBytes != fileSize) {
    info.problem = "length differs from the superblock's blocks";
    return info;
  }
  uint64_t rootOffset = (uint64_t(info.metaBlkaddr) << info.blkszbits) + uint64_t(info.rootNid) * 32;
  uint8_t mode[2];
  if (rootOffset + 6 > fileSize || read(rootOffset + 4, mode, 2) != 2) {
    info.problem = "root inode lies outside the image";
    return info;
  }
  if ((Le16(mode) & 0170000) != 0040000) {
    info.problem = "root inode is not a directory";
    return info;
  }
  info.valid = true;
  return info;
}

ErofsInfo InspectErofsFd(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ErofsInfo info;
    info.problem = std::string("stat failed: ") + std::strerror(errno);
    return info;
  }
  if (!S_ISREG(st.st_mode)) {
    ErofsInfo info;
    info.problem = "not a regular file";
    return info;
  }
  return InspectErofs(
      [fd](uint64_t offset, void* buf, size_t size) -> long {
        size_t done = 0;
        while (done < size) {
          ssize_t n = pread(fd, static_cast<char*>(buf) + done, size - done, off_t(offset + done));
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) return -1;
          if (n == 0) break;
          done += size_t(n);
        }
        return long(done);
      },
      uint64_t(st.st_size));
}

}  // namespace msb
