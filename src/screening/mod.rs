//! Fraud screening with O-PLUX at checkout: the request, the decision engine, the O-PLUX
//! client and protocol, the records, and the local O-PLUX stand-in.

pub mod decision;
pub mod exchange;
pub mod input;
pub mod mock;
pub mod oplux;
pub mod record;
pub mod request;
pub mod review;
pub mod review_queue;
pub mod service;
pub mod verify;
pub mod writes;
