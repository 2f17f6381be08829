//! Hostile uploads: parsers that crash, overflow, inflate or loop fail their document alone, in a child process.
