//! Local Bot API emulator (being written).
