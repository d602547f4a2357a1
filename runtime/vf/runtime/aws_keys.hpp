// vf/runtime/aws_keys.hpp — one AWS credential chain per profile and
// process, shared by every edge that signs requests (S3 store, SQS intake
// and dead letters, Bedrock), so temporary credentials are fetched once
// and refreshed once.

#pragma once

#include "vf/adapters/aws/credentials.hpp"
#include "vf/adapters/s3/client.hpp"
#include "vf/runtime/node.hpp"

#include <memory>
#include <string>

namespace vf::runtime {

/// The process's chain for `profile` (empty: `AWS_PROFILE`, else
/// `default`), made on first use.
std::shared_ptr<adapters::aws::credential_chain>
aws_chain_of(const std::string& profile);

/// The chain as a source of S3 signing keys. With `fetch` false the
/// source never blocks on a credential endpoint: it serves what the chain
/// holds (`keep_aws_keys_fresh` keeps it fresh), for callers on the
/// cooperative scheduler.
adapters::s3::key_source s3_keys_of(const std::string& profile,
                                    bool fetch = true);

/// Keeps the chain of `profile` fresh: fetches keys now, on the calling
/// thread (before the API opens), then from a detached actor of `n` asks
/// the chain every 30 s, so the refresh 5
/// minutes before expiry happens there and the API's presigners, which run
/// on the cooperative scheduler, find fresh keys without waiting. Logs
/// when keys cannot be had and when they can again.
void keep_aws_keys_fresh(node& n, const std::string& profile);

} // namespace vf::runtime
