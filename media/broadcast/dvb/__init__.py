"""Bit-level MPEG-TS (ISO/IEC 13818-1) and DVB SI (ETSI EN 300 468) tables: read, write, checksum."""
