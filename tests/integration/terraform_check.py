#!/usr/bin/env python3
"""deploy/terraform/aws, checked without Terraform (not installable here).

Every .tf file is parsed by @cdktf/hcl2json (Terraform's own HCL parser,
compiled to WebAssembly; npm, installed by deploy/install-deps.sh --test),
then:
- every reference (resources, data sources, var., local.) resolves to a
  declaration, and every variable and local is used;
- every IAM policy is a structured aws_iam_policy_document (no hand-written
  JSON policies, no managed-policy attachments), and no statement's action
  has a wildcard;
- the pieces docs/aws.md promises exist: the bucket's EventBridge
  notifications, the rule targeting the events queue, the queue's redrive
  to its DLQ, the dead-letters queue, ECS services for the coordinator and
  the workers with service discovery, log groups, the API URL and bucket
  outputs, an on-demand DynamoDB table with exactly the indexes vidflow's
  table_definition (adapters/vf/adapters/aws/dynamodb.cpp) makes, the
  coordinator on store.backend = dynamodb; every secret the task
  definitions read is documented.
The same checks run once more on a copy with a wildcard action and a
dangling reference added: both must be reported, or the checker is blind.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TF_DIR = os.path.join(REPO, "deploy", "terraform", "aws")
MODULE = os.environ.get("VF_HCL2JSON_MODULE", os.path.join(
    REPO, "build", "tools", "node_modules", "@cdktf", "hcl2json"))
TABLE_SOURCE = os.path.join(REPO, "adapters", "vf", "adapters", "aws",
                            "dynamodb.cpp")
CONVERTER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "hcl2json.js")

REF = re.compile(r"(?<![\w.\-])(data\.[a-z0-9_]+\.[A-Za-z0-9_\-]+"
                 r"|var\.[A-Za-z0-9_]+|local\.[A-Za-z0-9_]+"
                 r"|aws_[a-z0-9_]+\.[A-Za-z0-9_\-]+)")


def parse_dir(path):
    node = shutil.which("node")
    if node is None:
        raise AssertionError("node is not installed (apt: nodejs)")
    if not os.path.isfile(os.path.join(MODULE, "package.json")):
        raise AssertionError(f"@cdktf/hcl2json is not installed at {MODULE} "
                             "(run deploy/install-deps.sh --test)")
    files = sorted(os.path.join(path, f) for f in os.listdir(path)
                   if f.endswith(".tf"))
    r = subprocess.run([node, CONVERTER, MODULE, *files],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"HCL parse failed:\n{r.stderr}")
    return json.loads(r.stdout)


def strings(x):
    if isinstance(x, str):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from strings(v)


def problems_of(parsed):
    problems = []
    declared, resources, data_docs = set(), {}, {}
    variables, locals_ = {}, set()
    for doc in parsed.values():
        for rtype, byname in doc.get("resource", {}).items():
            for name, bodies in byname.items():
                declared.add(f"{rtype}.{name}")
                resources[f"{rtype}.{name}"] = bodies[0]
        for dtype, byname in doc.get("data", {}).items():
            for name, bodies in byname.items():
                declared.add(f"data.{dtype}.{name}")
                if dtype == "aws_iam_policy_document":
                    data_docs[name] = bodies[0]
        for name, bodies in doc.get("variable", {}).items():
            declared.add(f"var.{name}")
            variables[name] = bodies[0]
        for block in doc.get("locals", []):
            for name in block:
                declared.add(f"local.{name}")
                locals_.add(name)
    used = set()
    for doc in parsed.values():
        for s in strings(doc):
            if "${" not in s:
                continue
            for ref in REF.findall(s):
                used.add(ref)
                if ref not in declared:
                    problems.append(f"reference {ref} is not declared")
    for name in variables:
        if f"var.{name}" not in used:
            problems.append(f"variable {name} is never used")
    for name in locals_:
        if f"local.{name}" not in used:
            problems.append(f"local {name} is never used")
    # IAM: structured documents only, no wildcard actions.
    for name, body in data_docs.items():
        for st in body.get("statement", []):
            for action in st.get("actions", []):
                if "*" in action or ":" not in action:
                    problems.append(f"policy {name} grants '{action}'")
            if st.get("not_actions"):
                problems.append(f"policy {name} uses not_actions")
    for key, body in resources.items():
        rtype = key.split(".")[0]
        if rtype in ("aws_iam_role_policy_attachment",
                     "aws_iam_policy_attachment",
                     "aws_iam_user_policy_attachment"):
            problems.append(f"{key}: managed policies are not checked here")
        for field in ("policy", "assume_role_policy"):
            if field in body and not re.fullmatch(
                    r"\$\{data\.aws_iam_policy_document\.[\w-]+\.json\}",
                    body[field]):
                problems.append(f"{key}.{field} is not an "
                                "aws_iam_policy_document")
    # What docs/aws.md promises.
    def has(rtype, pred=lambda b: True):
        return any(k.split(".")[0] == rtype and pred(b)
                   for k, b in resources.items())
    wants = {
        "bucket notifications to EventBridge": has(
            "aws_s3_bucket_notification",
            lambda b: b.get("eventbridge") is True),
        "an EventBridge rule on Object Created": has(
            "aws_cloudwatch_event_rule",
            lambda b: "Object Created" in b.get("event_pattern", "")),
        "the rule targets the events queue": has(
            "aws_cloudwatch_event_target",
            lambda b: "aws_sqs_queue." in b.get("arn", "")),
        "a queue with a redrive policy to its DLQ": has(
            "aws_sqs_queue",
            lambda b: "deadLetterTargetArn" in b.get("redrive_policy", "")
            and "maxReceiveCount" in b.get("redrive_policy", "")),
        "two ECS services": sum(k.startswith("aws_ecs_service.")
                                for k in resources) >= 2,
        "service discovery": has("aws_service_discovery_service"),
        "log groups": sum(k.startswith("aws_cloudwatch_log_group.")
                          for k in resources) >= 2,
        "an on-demand DynamoDB table for the state": has(
            "aws_dynamodb_table",
            lambda b: b.get("billing_mode") == "PAY_PER_REQUEST"),
        "the coordinator keeps its state in DynamoDB": any(
            '{"name": "VIDFLOW_STORE_BACKEND", "value": "dynamodb"}'
            in json.dumps(doc) for doc in parsed.values()),
    }
    # The table's indexes are the ones vidflow queries (and creates with
    # dynamodb.create_table): read them from the C++ source.
    with open(TABLE_SOURCE) as f:
        want_indexes = set(re.findall(
            r'index\("(by_\w+)", "(gsi\d+pk)", "(gsi\d+sk)"\)', f.read()))
    have_indexes = set()

    def index_maps(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if (k.startswith("by_") and isinstance(v, list)
                        and len(v) == 2 and all(isinstance(e, str)
                                                for e in v)):
                    have_indexes.add((k, v[0], v[1]))
                else:
                    index_maps(v)
        elif isinstance(x, list):
            for v in x:
                index_maps(v)
    for doc in parsed.values():
        index_maps(doc.get("locals", []))
    if not want_indexes:
        problems.append(f"no indexes found in {TABLE_SOURCE}")
    if want_indexes != have_indexes:
        problems.append(f"DynamoDB indexes: vidflow uses "
                        f"{sorted(want_indexes)}, Terraform makes "
                        f"{sorted(have_indexes)}")
    for what, ok in wants.items():
        if not ok:
            problems.append(f"missing: {what}")
    outputs = set()
    for doc in parsed.values():
        outputs |= set(doc.get("output", {}))
    for name in ("api_url", "bucket"):
        if name not in outputs:
            problems.append(f"missing output {name}")
    secrets_doc = variables.get("secret_arns", {}).get("description", "")
    for doc in parsed.values():
        for s in strings(doc):
            for key in re.findall(r'var\.secret_arns\["([\w-]+)"\]', s):
                if key not in secrets_doc:
                    problems.append(f"secret {key} is read but not "
                                    "described in variable secret_arns")
    return sorted(set(problems))


class TerraformAws(unittest.TestCase):

    def test_the_configuration_checks_out(self):
        parsed = parse_dir(TF_DIR)
        n = sum(len(d.get("resource", {}).get(t, {}))
                for d in parsed.values() for t in d.get("resource", {}))
        print(f"\n  {len(parsed)} files, {n} resources", flush=True)
        self.assertEqual(problems_of(parsed), [])

    def test_the_checker_sees_bad_configurations(self):
        tmp = tempfile.mkdtemp(prefix="vf-tf-")
        try:
            for f in os.listdir(TF_DIR):
                if f.endswith(".tf"):
                    shutil.copy(os.path.join(TF_DIR, f), tmp)
            with open(os.path.join(tmp, "bad.tf"), "w") as f:
                f.write('''
data "aws_iam_policy_document" "too_much" {
  statement {
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.nowhere.arn]
  }
}
resource "aws_iam_role_policy" "raw" {
  role   = aws_iam_role.worker.id
  policy = jsonencode({ Statement = [] })
}
locals {
  more_indexes = { by_size = ["gsi9pk", "gsi9sk"] }
}
''')
            problems = problems_of(parse_dir(tmp))
        finally:
            shutil.rmtree(tmp)
        text = "\n".join(problems)
        self.assertIn("grants 's3:*'", text)
        self.assertIn("aws_s3_bucket.nowhere is not declared", text)
        self.assertIn("aws_iam_role_policy.raw.policy is not", text)
        self.assertIn("Terraform makes [('by_content'", text)
        self.assertIn("('by_size', 'gsi9pk', 'gsi9sk')", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
