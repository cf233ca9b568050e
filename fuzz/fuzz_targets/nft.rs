#![no_main]
include!("../src/target.rs");
