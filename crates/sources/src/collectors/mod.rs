//! One file per kernel source: the pure parser and the collector that feeds it.

pub mod conntrack;
pub mod cpuidle;
pub mod ethtool;
pub mod firewall;
pub mod interrupts;
pub mod link;
pub mod netclass;
pub mod netdev;
pub mod pressure;
pub mod procs;
pub mod qdisc;
pub mod queues;
pub mod snmp;
pub mod snmp6;
pub mod sockets;
pub mod sockstat;
pub mod softirqs;
pub mod softnet;
pub mod stat_tables;
pub mod sysctl;
