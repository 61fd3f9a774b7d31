"""Encode and decode messages: plain dataclasses <-> protobuf ``Envelope`` bytes.

The only package (with the generated module) where protobuf classes live. Modules:

- ``schema``: the generated module, ``DecodeError``, shared field tags and index tables,
  the schema as recordings embed it;
- ``reference``: bodies <-> protobuf message objects, every field through protobuf;
- ``fast``: ``encode``/``decode`` (batches straight to and from wire bytes, everything
  else and anything odd through ``reference``) and ``header_of``;
- ``tags``: fire-order and heartbeat authentication tags.
"""

from protocols.codec.fast import decode, encode, header_of
from protocols.codec.reference import decode_reference, encode_reference
from protocols.codec.schema import BODY_FIELDS, ENVELOPE_SCHEMA, DecodeError, envelope_file_descriptor_set
from protocols.codec.tags import (
    HEARTBEAT_TAG_LEN,
    heartbeat_tag,
    order_tag,
    sign_heartbeat,
    sign_order,
    verify_heartbeat,
    verify_order,
)

__all__ = [
    "BODY_FIELDS",
    "ENVELOPE_SCHEMA",
    "HEARTBEAT_TAG_LEN",
    "DecodeError",
    "decode",
    "decode_reference",
    "encode",
    "encode_reference",
    "envelope_file_descriptor_set",
    "header_of",
    "heartbeat_tag",
    "order_tag",
    "sign_heartbeat",
    "sign_order",
    "verify_heartbeat",
    "verify_order",
]
