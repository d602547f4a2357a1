# The built-in object store against a real server on an ephemeral port.
vf_add_unit_test(vf-test-objectstore
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/objectstore.test.cpp
  LIBS vf::adapters_objectstore vf::adapters_sigv4 Boost::headers
       OpenSSL::Crypto
  SUITES adapters.objectstore)

# ListObjectsV2: the query, the listing over a file tree, the XML.
vf_add_unit_test(vf-test-list-objects
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/list_objects.test.cpp
  LIBS vf::adapters_objectstore
  SUITES adapters.list_objects)

# aws-chunked bodies: framing and chained chunk signatures.
vf_add_unit_test(vf-test-aws-chunked
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/aws_chunked.test.cpp
  LIBS vf::adapters_objectstore vf::adapters_sigv4
  SUITES adapters.aws_chunked)

# Multipart uploads on disk: records, parts, the CompleteMultipartUpload
# body and its checks, the multipart ETag, expiry.
vf_add_unit_test(vf-test-multipart
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/multipart.test.cpp
  LIBS vf::adapters_objectstore
  SUITES adapters.multipart)

# Where an object's metadata lives: the file's attribute, else a file.
vf_add_unit_test(vf-test-object-meta
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/object_meta.test.cpp
  LIBS vf::adapters_objectstore
  SUITES adapters.object_meta)
