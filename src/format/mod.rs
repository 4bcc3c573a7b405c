//! On-disk formats shared by the file backends.

pub mod tb_proto;
pub mod tfrecord;
pub mod vizlog;
