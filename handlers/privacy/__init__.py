"""Personal data under UU PDP (Law 27/2022): withdrawing consent, `data saya`, erasure, retention."""
