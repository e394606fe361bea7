"""OTP codes: six random digits, stored as a keyed hash bound to the phone, shown only in development."""

from mibo.domain import otp


def test_otp_is_six_digits_and_varies():
    codes = {otp.generate_otp() for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 150


def test_otp_hash_is_keyed_and_bound_to_the_phone():
    stored = otp.hash_otp("secret-1", "+919800000001", "123456")
    assert otp.verify_otp("secret-1", "+919800000001", "123456", stored)
    assert not otp.verify_otp("secret-1", "+919800000001", "123457", stored)
    assert not otp.verify_otp("secret-1", "+919800000002", "123456", stored)
    assert not otp.verify_otp("secret-2", "+919800000001", "123456", stored)


async def test_console_sender_shows_the_code_only_in_development(capsys, caplog):
    await otp.ConsoleOtpSender(show_code=True).send("+919812345678", "424242", 10)
    await otp.ConsoleOtpSender(show_code=False).send("+919812345678", "515151", 10)
    err = capsys.readouterr().err
    assert "424242" in err and "515151" not in err
    assert "9812345678" not in err + caplog.text
