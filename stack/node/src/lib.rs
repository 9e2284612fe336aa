//! The node daemon: wires the sans-IO cores to I/O, simulated (madsim) or real.
