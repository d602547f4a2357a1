// vf/messages/type_ids.hpp

#pragma once

#include "caf/type_id.hpp"

#include "vf/messages/dead_letter.hpp"
#include "vf/messages/job.hpp"
#include "vf/messages/object_event.hpp"
#include "vf/messages/task.hpp"
#include "vf/messages/user_usage.hpp"

#include <vector>

// The project's one type-ID block. Every type that crosses an actor boundary
// is listed here and registered by `vf::messages::register_types`.
CAF_BEGIN_TYPE_ID_BLOCK(vf, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(vf, (vf::messages::object_ref))
  CAF_ADD_TYPE_ID(vf, (vf::messages::job))
  CAF_ADD_TYPE_ID(vf, (std::vector<vf::messages::job>))
  CAF_ADD_TYPE_ID(vf, (vf::messages::job_request))
  CAF_ADD_TYPE_ID(vf, (vf::messages::job_result))
  CAF_ADD_TYPE_ID(vf, (vf::messages::object_event))
  CAF_ADD_TYPE_ID(vf, (vf::messages::task))
  CAF_ADD_TYPE_ID(vf, (vf::messages::task_outcome))
  CAF_ADD_TYPE_ID(vf, (std::vector<vf::messages::task_outcome>))
  CAF_ADD_TYPE_ID(vf, (vf::messages::cluster_node))
  CAF_ADD_TYPE_ID(vf, (std::vector<vf::messages::cluster_node>))
  CAF_ADD_TYPE_ID(vf, (vf::messages::worker_info))
  CAF_ADD_TYPE_ID(vf, (vf::messages::dispatcher_stats))
  CAF_ADD_TYPE_ID(vf, (std::vector<uint64_t>))
  CAF_ADD_TYPE_ID(vf, (vf::messages::attempt_record))
  CAF_ADD_TYPE_ID(vf, (std::vector<vf::messages::attempt_record>))
  CAF_ADD_TYPE_ID(vf, (vf::messages::dead_letter))
  CAF_ADD_TYPE_ID(vf, (std::vector<vf::messages::dead_letter>))
  CAF_ADD_TYPE_ID(vf, (vf::messages::incident_category))
  CAF_ADD_TYPE_ID(vf, (vf::messages::incident_report))

  CAF_ADD_ATOM(vf, vf::atoms, create, "create")
  CAF_ADD_ATOM(vf, vf::atoms, create_keyed, "createkey")
  CAF_ADD_ATOM(vf, vf::atoms, find_key, "findkey")
  CAF_ADD_ATOM(vf, vf::atoms, unrunnable, "unrunnable")
  CAF_ADD_ATOM(vf, vf::atoms, get, "get")
  CAF_ADD_ATOM(vf, vf::atoms, put, "put")
  CAF_ADD_ATOM(vf, vf::atoms, history, "history")
  CAF_ADD_ATOM(vf, vf::atoms, put_result, "putresult")
  CAF_ADD_ATOM(vf, vf::atoms, get_result, "getresult")
  CAF_ADD_ATOM(vf, vf::atoms, active, "active")
  CAF_ADD_ATOM(vf, vf::atoms, counts, "counts")
  CAF_ADD_ATOM(vf, vf::atoms, claim, "claim")
  CAF_ADD_ATOM(vf, vf::atoms, created, "created")
  CAF_ADD_ATOM(vf, vf::atoms, retry, "retry")
  CAF_ADD_ATOM(vf, vf::atoms, cancel, "cancel")
  CAF_ADD_ATOM(vf, vf::atoms, recover, "recover")
  CAF_ADD_ATOM(vf, vf::atoms, submit, "submit")
  CAF_ADD_ATOM(vf, vf::atoms, join, "join")
  CAF_ADD_ATOM(vf, vf::atoms, stats, "stats")
  CAF_ADD_ATOM(vf, vf::atoms, run, "run")
  CAF_ADD_ATOM(vf, vf::atoms, probe, "probe")
  CAF_ADD_ATOM(vf, vf::atoms, summarize, "summarize")
  CAF_ADD_ATOM(vf, vf::atoms, observe, "observe")
  CAF_ADD_ATOM(vf, vf::atoms, flush, "flush")
  CAF_ADD_ATOM(vf, vf::atoms, expire, "expire")
  CAF_ADD_ATOM(vf, vf::atoms, dispatch, "dispatch")
  CAF_ADD_ATOM(vf, vf::atoms, record, "record")
  CAF_ADD_ATOM(vf, vf::atoms, attempts, "attempts")
  CAF_ADD_ATOM(vf, vf::atoms, bury, "bury")
  CAF_ADD_ATOM(vf, vf::atoms, dlq_list, "dlqlist")
  CAF_ADD_ATOM(vf, vf::atoms, dlq_get, "dlqget")
  CAF_ADD_ATOM(vf, vf::atoms, dlq_remove, "dlqremove")
  CAF_ADD_ATOM(vf, vf::atoms, redriven, "redriven")
  CAF_ADD_ATOM(vf, vf::atoms, redrive, "redrive")
  CAF_ADD_ATOM(vf, vf::atoms, analyze, "analyze")
  CAF_ADD_ATOM(vf, vf::atoms, tick, "tick")
  CAF_ADD_ATOM(vf, vf::atoms, expire_old, "expireold")
  CAF_ADD_ATOM(vf, vf::atoms, drain, "drain")
  CAF_ADD_ATOM(vf, vf::atoms, report, "report")
  CAF_ADD_ATOM(vf, vf::atoms, hello, "hello")
  CAF_ADD_ATOM(vf, vf::atoms, leave, "leave")
  CAF_ADD_ATOM(vf, vf::atoms, nodes, "nodes")
  CAF_ADD_ATOM(vf, vf::atoms, head, "head")
  CAF_ADD_ATOM(vf, vf::atoms, admit, "admit")
  CAF_ADD_TYPE_ID(vf, (vf::messages::user_usage))
  CAF_ADD_ATOM(vf, vf::atoms, usage, "usage")
  CAF_ADD_ATOM(vf, vf::atoms, purgeable, "purgeable")
  CAF_ADD_ATOM(vf, vf::atoms, purged, "purged")
  CAF_ADD_ATOM(vf, vf::atoms, erase, "erase")
  CAF_ADD_ATOM(vf, vf::atoms, presign, "presign")
  CAF_ADD_ATOM(vf, vf::atoms, drained, "drained")
  CAF_ADD_ATOM(vf, vf::atoms, render, "render")
  CAF_ADD_ATOM(vf, vf::atoms, erase_prefix, "eraseprfx")
  CAF_ADD_ATOM(vf, vf::atoms, progress, "progress")
  CAF_ADD_ATOM(vf, vf::atoms, lease_of, "leaseof")
  CAF_ADD_ATOM(vf, vf::atoms, find_reuse, "findreuse")
  CAF_ADD_TYPE_ID(vf, (vf::messages::task_progress))
  CAF_ADD_TYPE_ID(vf, (std::vector<vf::messages::task_progress>))

CAF_END_TYPE_ID_BLOCK(vf)
