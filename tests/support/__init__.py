"""Support code for the tests: plain references and oracles the kernels are held to, shared
inputs, and the one list of devices and dtypes that tests parametrise over."""
