# integration.terraform_aws: deploy/terraform/aws parsed by @cdktf/hcl2json
# (node; installed into build/tools by deploy/install-deps.sh --test) and
# checked: references resolve, no wildcard IAM actions, the promised pieces.
add_test(NAME integration.terraform_aws
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/terraform_check.py)
# Python only (checks deploy/ terraform): nothing for a sanitizer to see.
set_tests_properties(integration.terraform_aws PROPERTIES
                     LABELS "integration;nosan" TIMEOUT 120)
