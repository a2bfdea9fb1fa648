"""Receipt printing through python-escpos: layouts (receipt, boleta, kitchen ticket, Z-report), transports
and status."""
