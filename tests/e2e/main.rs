//! End-to-end tests: the built `kvs-operator` binary against a real kube-apiserver + etcd
//! (built by `hack/control-plane.sh build`) and kvs-emulator, driven with `kubectl apply`
//! as a user does; and in `node`, the chart installed with helm on a one-node cluster,
//! the operator running in pods from its image. `hack/prepare.sh` makes what they need.

mod accounts;
mod channels;
mod chart;
mod clusters;
#[path = "../common/mod.rs"]
mod common;
mod configurations;
mod crash;
mod exports;
mod import;
mod lifecycle;
mod node;
mod operations;
mod ownership;
mod plan;
mod policies;
mod prerequisites;
mod protection;
mod proxy;
#[path = "../rbac_rules/mod.rs"]
mod rbac_rules;
mod rest;
mod sharding;
mod support;
mod tenancy;
mod validation;
