// Package python holds the tests of pyledger, a provisioning plugin written
// in Python against docs/plugin-protocol.md alone: the proof that the
// protocol is language-neutral. The plugin itself is the Python files beside
// this one (see README.md); this package has no Go code of its own.
//
// The tests run the plugin with Debian's /usr/bin/python3 and its packages
// python3-grpcio, python3-protobuf, python3-cryptography and
// python3-grpc-tools; they skip, saying so, where those are missing. They
// generate the Python stubs from proto/ and third_party/googleapis into a
// temporary folder first, so the tree holds no generated Python.
package python
