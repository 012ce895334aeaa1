// inspect(reference): the image, its config row and its layers in one read transaction; then,
// outside it, each layer's EROFS size from its superblock (the column is never written).
#include <fcntl.h>
#include <unistd.h>

#include "storage/catalog.h"
#include "formats/erofs.h"
#include "base/errors.h"
#include "runtime/js_values.h"
#include "operations/operations.h"
#include "runtime/promise_worker.h"
#include "formats/reference.h"

namespace msb {
namespace {

std::optional<int64_t> ErofsImageBytes(const std::string& cacheDir, const std::string& diffId) {
  if (!IsValidDigest(diffId)) return std::nullopt;
  std::string path = cacheDir + "/layers/" + DigestFileStem(diffId) + ".erofs";
  // O_NONBLOCK: a FIFO planted in the cache must not hang the worker; InspectErofsFd
  // accepts only regular files.
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  ErofsInfo info = InspectErofsFd(fd);
  close(fd);
  if (!info.valid) return std::nullopt;
  return int64_t(info.imageBytes);
}

class InspectWorker : public PromiseWorker {
 public:
  InspectWorker(Napi::Env env, std::shared_ptr<CacheState> state, std::string reference, Napi::Value cancel)
      : PromiseWorker(env, std::move(state), cancel), reference_(std::move(reference)) {}

 private:
  void Run() override {
    {
      std::optional<CacheState::Lease> conn = state_->Acquire(Connection::Mode::kRead, cancel_);
      if (!conn) {
        CacheError e(code::kImageNotFound, "image not found: " + reference_);
        e.reference = reference_;
        throw e;
      }
      Transaction tx(**conn, Connection::Mode::kRead);
      image_ = ResolveImage(**conn, reference_);
      config_ = LoadConfig(**conn, image_.manifestId);
      layers_ = LoadLayers(**conn, image_.manifestId);
    }
    const std::string& cacheDir = state_->Paths().cacheDir;
    for (LayerRecord& l : layers_) {
      if (!l.erofsSizeBytes) l.erofsSizeBytes = ErofsImageBytes(cacheDir, l.diffId);
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    Napi::Object image = ImageToJs(env, image_);
    image.Set("layerCount", double(layers_.size()));  // inspect counts the layer rows found
    o.Set("image", image);
    if (config_) {
      Napi::Object c = Napi::Object::New(env);
      c.Set("digest", OrNull(env, config_->digest));
      c.Set("env", OrNull(env, config_->env));
      c.Set("cmd", OrNull(env, config_->cmd));
      c.Set("entrypoint", OrNull(env, config_->entrypoint));
      c.Set("workingDir", OrNull(env, config_->workingDir));
      c.Set("user", OrNull(env, config_->user));
      c.Set("labels", OrNull(env, config_->labels));
      c.Set("stopSignal", OrNull(env, config_->stopSignal));
      o.Set("config", c);
    } else {
      o.Set("config", env.Null());
    }
    Napi::Array layers = Napi::Array::New(env, layers_.size());
    for (uint32_t i = 0; i < layers_.size(); i++) {
      const LayerRecord& l = layers_[i];
      Napi::Object lo = Napi::Object::New(env);
      lo.Set("diffId", l.diffId);
      lo.Set("blobDigest", l.blobDigest);
      lo.Set("mediaType", OrNull(env, l.mediaType));
      lo.Set("compressedSizeBytes", OrNull(env, l.compressedSizeBytes));
      lo.Set("erofsSizeBytes", OrNull(env, l.erofsSizeBytes));
      lo.Set("position", double(l.position));
      layers.Set(i, lo);
    }
    o.Set("layers", layers);
    return o;
  }

  std::string reference_;
  ImageRecord image_;
  std::optional<ConfigRecord> config_;
  std::vector<LayerRecord> layers_;
};

}  // namespace

Napi::Promise StartInspect(Napi::Env env, std::shared_ptr<CacheState> state, std::string reference,
                           Napi::Value cancel) {
  return (new InspectWorker(env, std::move(state), std::move(reference), cancel))->Start();
}

}  // namespace msb
