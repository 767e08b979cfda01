// OpenSslBodyDigester: a BodyDigester over OpenSSL EVP for the crawler tests
// (production wires matcher/multi_digester.h in daemon/), and one-shot
// digests of test bytes to compare with.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "crawler/body_digester.h"

namespace takedown {

class OpenSslBodyDigester final : public BodyDigester {
 public:
  OpenSslBodyDigester() {
    md5_ = EVP_MD_CTX_new();
    sha1_ = EVP_MD_CTX_new();
    sha256_ = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md5_, EVP_md5(), nullptr);
    EVP_DigestInit_ex(sha1_, EVP_sha1(), nullptr);
    EVP_DigestInit_ex(sha256_, EVP_sha256(), nullptr);
  }
  ~OpenSslBodyDigester() override {
    EVP_MD_CTX_free(md5_);
    EVP_MD_CTX_free(sha1_);
    EVP_MD_CTX_free(sha256_);
  }
  void Update(std::span<const uint8_t> data) override {
    EVP_DigestUpdate(md5_, data.data(), data.size());
    EVP_DigestUpdate(sha1_, data.data(), data.size());
    EVP_DigestUpdate(sha256_, data.data(), data.size());
  }
  DigestSet Finish() override {
    DigestSet out;
    EVP_DigestFinal_ex(md5_, out.md5.data(), nullptr);
    EVP_DigestFinal_ex(sha1_, out.sha1.data(), nullptr);
    EVP_DigestFinal_ex(sha256_, out.sha256.data(), nullptr);
    return out;
  }

  static BodyDigesterFactory Factory() {
    return [] { return std::unique_ptr<BodyDigester>(new OpenSslBodyDigester()); };
  }

  static DigestSet Of(std::string_view bytes) {
    OpenSslBodyDigester d;
    d.Update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    return d.Finish();
  }

 private:
  EVP_MD_CTX* md5_;
  EVP_MD_CTX* sha1_;
  EVP_MD_CTX* sha256_;
};

}  // namespace takedown
