//! skylark-node-agent: registers a Node and runs the Pods bound to it as
//! local processes (a test-only kubelet).

fn main() {}
