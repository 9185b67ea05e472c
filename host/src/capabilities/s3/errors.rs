//! S3 errors to the contract's (being written).
