//! Run reports: JSON for machines, a one-screen text summary for people.
