//! Fraud screening with O-PLUX at checkout: the request, the decision engine, the O-PLUX
//! client and protocol, and the records (the local stand-in is `crate::standin`).

pub mod decision;
pub mod exchange;
pub mod gather;
pub mod input;
pub mod oplux;
pub mod record;
pub mod request;
pub mod review;
pub mod review_queue;
pub mod service;
pub mod verify;
pub mod writes;
