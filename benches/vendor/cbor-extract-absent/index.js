// cbor-x checks `if (extractor)` before using it: null keeps it on its pure-JS decoder.
module.exports = null;
