"""Staff accounts: create, sign in (argon2, throttled per address and per account), invitations and password
resets by one-time link, roles. Shared by the staff app and the `billflow user` commands.

Every user belongs to one workspace (issue 13): the staff app's session runs there. Addresses are unique across
the installation, so sign-in, session checks and one-time links find the user before any workspace is known:
they read with the named bypass (ALL_WORKSPACES), as API key verification does. Listing, inviting and changing
users take the acting admin's workspace and never reach another's."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, EmailStr, Field

from billflow.config import Settings
from billflow.db import ALL_WORKSPACES, Database
from billflow.email.base import EmailSender
from billflow.repositories import users as users_repo
from billflow.repositories import workspaces as workspaces_repo
from billflow.services.account_mail import send_account_email
from models.api_keys import ApiRole
from models.columns import DEFAULT_WORKSPACE_ID, utcnow
from models.users import LoginAttempt, StaffToken, StaffUser, TokenPurpose

MIN_PASSWORD = 12
MAX_PASSWORD = 256  # argon2 takes any length; the bound keeps a request from hashing megabytes
INVITE_VALID = timedelta(days=7)
RESET_VALID = timedelta(minutes=60)
# Throttling: failed sign-ins counted over a sliding window, per account and per client address.
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the account does not exist, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserExists(ValueError):
    pass


class UserNotFound(LookupError):
    pass


class WeakPassword(ValueError):
    pass


class LoginFailed(Exception):
    """Wrong address or password (deliberately not saying which)."""


class LoginThrottled(Exception):
    def __init__(self, retry_after: timedelta) -> None:
        minutes = max(1, int(retry_after.total_seconds() // 60) + 1)
        super().__init__(f"too many failed sign-ins: try again in {minutes} minute{'s' if minutes != 1 else ''}")
        self.retry_after = retry_after


class TokenInvalid(Exception):
    """The link is unknown, used, or expired."""


class LastAdmin(ValueError):
    pass


class NewUser(BaseModel):
    email: EmailStr = Field(max_length=320)
    name: str = Field(default="", max_length=200, pattern=r"^[^\x00]*$")
    role: ApiRole = ApiRole.viewer
    workspace_id: int = Field(default=DEFAULT_WORKSPACE_ID, ge=1, le=2**31 - 1)


class UserOut(BaseModel):
    id: int
    workspace_id: int  # whose staff app this is: every page the user sees reads and acts only there
    email: str
    name: str
    role: ApiRole
    active: bool  # has a password and is not disabled
    invited: bool  # invited, password not chosen yet
    session_epoch: int
    created_at: datetime
    last_login_at: datetime | None
    workspace_name: str = ""  # filled for the signed-in user: the app's header names the business

    @classmethod
    def of(cls, user: StaffUser) -> UserOut:
        assert user.id is not None
        return cls(
            id=user.id,
            workspace_id=user.workspace_id,
            email=user.email,
            name=user.name,
            role=ApiRole(user.role),
            active=user.password_hash is not None and user.disabled_at is None,
            invited=user.password_hash is None and user.disabled_at is None,
            session_epoch=user.session_epoch,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )

    @property
    def label(self) -> str:
        return self.name or self.email

    @property
    def actor(self) -> str:
        return f"user:{self.email}"


@dataclass(frozen=True)
class IssuedLink:
    user: UserOut
    url: str
    message_id: int


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise WeakPassword(f"password must have at most {MAX_PASSWORD} characters")
    if "\x00" in password:
        raise WeakPassword("password must not contain NUL characters")
    return password


def _token_hash(secret: str) -> str:
    # A 256-bit random secret: a fast hash is enough (nothing to guess), unlike a password.
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_user(db: Database, data: NewUser, *, password: str | None = None) -> UserOut:
    """A user with a password (the CLI's first admin) or without one (an invitation completes it)."""
    hashed = _hasher.hash(check_password(password)) if password is not None else None
    # Addresses are unique across workspaces: the check reads every workspace's users.
    async with db.session(workspace=ALL_WORKSPACES) as session:
        if await users_repo.get_user(session, email=str(data.email)) is not None:
            raise UserExists(f"a user {str(data.email).lower()} already exists")
        user = await users_repo.add_user(
            session,
            user=StaffUser(
                email=str(data.email).lower(),
                name=data.name,
                role=data.role.value,
                password_hash=hashed,
                workspace_id=data.workspace_id,
            ),
        )
        return UserOut.of(user)


async def list_users(db: Database, *, workspace_id: int | None = None) -> list[UserOut]:
    """The workspace's users (None: every workspace's, for the CLI)."""
    async with db.session() as session:
        return [UserOut.of(u) for u in await users_repo.list_users(session, workspace_id=workspace_id)]


async def get_user(db: Database, *, user_id: int) -> UserOut | None:
    async with db.session(workspace=ALL_WORKSPACES) as session:  # a session cookie names no workspace
        user = await users_repo.get_user(session, user_id=user_id)
        if user is None:
            return None
        workspace = await workspaces_repo.get_workspace(session, workspace_id=user.workspace_id)
        out = UserOut.of(user)
        out.workspace_name = workspace.name if workspace is not None else ""
        return out


async def session_user(db: Database, *, user_id: int, epoch: int) -> UserOut | None:
    """The signed-in user of a session cookie, or None when the session was ended (password change, disabled)."""
    user = await get_user(db, user_id=user_id)
    if user is None or not user.active or user.session_epoch != epoch:
        return None
    return user


async def sign_in(db: Database, *, email: str, password: str, address: str) -> UserOut:
    """Check the password; every attempt is recorded, and too many failures lock the account and the address."""
    email = email.replace("\x00", "").strip().lower()[:320]
    address = address.replace("\x00", "")[:64]
    now = utcnow()
    since = now - THROTTLE_WINDOW
    async with db.session(workspace=ALL_WORKSPACES) as session:  # the address names the user, and so the workspace
        for key, limit in (
            ({"email": email}, MAX_FAILURES_PER_ACCOUNT),
            ({"address": address}, MAX_FAILURES_PER_ADDRESS),
        ):
            if await users_repo.failed_attempts(session, since=since, **key) >= limit:
                oldest = await users_repo.oldest_failure(session, since=since, **key)
                raise LoginThrottled((oldest or now) + THROTTLE_WINDOW - now)
        user = await users_repo.get_user(session, email=email, for_update=True)
        ok = _verify(user.password_hash if user is not None and user.disabled_at is None else None, password)
        await users_repo.add_attempt(session, attempt=LoginAttempt(email=email, address=address, succeeded=ok))
        if not ok or user is None:
            failed = True
        else:
            failed = False
            if user.password_hash is not None and _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            user.last_login_at = now
            session.add(user)
            out = UserOut.of(user)
    if failed:
        raise LoginFailed("wrong email address or password")
    return out


def _verify(encoded: str | None, password: str) -> bool:
    try:
        return _hasher.verify(encoded or _DUMMY_HASH, password[:MAX_PASSWORD]) and encoded is not None
    except (VerificationError, InvalidHashError):
        return False


async def _issue_link(
    db: Database,
    settings: Settings,
    sender: EmailSender,
    *,
    user: StaffUser,
    purpose: TokenPurpose,
    extra: dict[str, str],
) -> IssuedLink:
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    valid = INVITE_VALID if purpose is TokenPurpose.invite else RESET_VALID
    assert user.id is not None
    async with db.session() as session:
        await users_repo.expire_tokens(session, user_id=user.id, purpose=purpose.value, at=now)
        token = await users_repo.add_token(
            session,
            token=StaffToken(
                user_id=user.id, purpose=purpose.value, token_hash=_token_hash(secret), expires_at=now + valid
            ),
        )
        workspace = await workspaces_repo.get_workspace(session, workspace_id=user.workspace_id)
    path = "invite" if purpose is TokenPurpose.invite else "reset"
    url = f"{settings.public_base_url.rstrip('/')}/app/{path}/{secret}"
    template = "staff_invite" if purpose is TokenPurpose.invite else "password_reset"
    context = {
        "link": url,
        "email": user.email,
        "role": user.role,
        "valid_hours": str(int(INVITE_VALID.total_seconds() // 3600)),
        "valid_minutes": str(int(RESET_VALID.total_seconds() // 60)),
        **extra,
    }
    if workspace is not None:  # the user's business names the email, not the installation
        context["business_name"] = workspace.name
    message_id = await send_account_email(
        db,
        settings,
        sender,
        key=f"staff-token:{token.id}",
        kind=f"staff_{purpose.value}",
        to_email=user.email,
        template=template,
        context=context,
    )
    return IssuedLink(user=UserOut.of(user), url=url, message_id=message_id)


async def invite(
    db: Database, settings: Settings, sender: EmailSender, data: NewUser, *, invited_by: str
) -> IssuedLink:
    """Create the user in `data.workspace_id` (the inviter's) without a password, or re-invite one of that
    workspace who never accepted, and email a one-time link."""
    # Addresses are unique across workspaces: the lookup reads them all, and one of another workspace is refused
    # without saying whose it is (an invitation never moves a person between businesses).
    async with db.session(workspace=ALL_WORKSPACES) as session:
        user = await users_repo.get_user(session, email=str(data.email))
        if user is not None and user.workspace_id != data.workspace_id:
            raise UserExists(f"{user.email} already has an account")
        if user is not None and user.password_hash is not None:
            raise UserExists(f"{user.email} already has an account")
        if user is None:
            user = await users_repo.add_user(
                session,
                user=StaffUser(
                    email=str(data.email).lower(),
                    name=data.name,
                    role=data.role.value,
                    workspace_id=data.workspace_id,
                ),
            )
        else:
            user.role, user.name, user.disabled_at = data.role.value, data.name or user.name, None
            session.add(user)
    return await _issue_link(
        db, settings, sender, user=user, purpose=TokenPurpose.invite, extra={"invited_by": invited_by}
    )


async def request_reset(db: Database, settings: Settings, sender: EmailSender, *, email: str) -> IssuedLink | None:
    """Email a reset link to an active account; None (and nothing sent) for any other address, which the caller
    must not reveal."""
    async with db.session(workspace=ALL_WORKSPACES) as session:
        user = await users_repo.get_user(session, email=email.replace("\x00", "")[:320])
    if user is None or user.password_hash is None or user.disabled_at is not None:
        return None
    return await _issue_link(db, settings, sender, user=user, purpose=TokenPurpose.reset, extra={})


async def peek_link(db: Database, *, secret: str, purpose: TokenPurpose) -> UserOut:
    """Whose link this is, without using it (to show the form); TokenInvalid when it cannot be used."""
    async with db.session(workspace=ALL_WORKSPACES) as session:  # the link names the user, and so the workspace
        token = await users_repo.get_token(session, token_hash=_token_hash(secret[:200]))
        if token is None or token.purpose != purpose.value or token.used_at is not None or token.expires_at <= utcnow():
            raise TokenInvalid("this link is unknown, used or expired: ask for a new one")
        user = await users_repo.get_user(session, user_id=token.user_id)
        assert user is not None
        return UserOut.of(user)


async def redeem_link(db: Database, *, secret: str, purpose: TokenPurpose, password: str) -> UserOut:
    """Set the password through a one-time link, once; every other session of the user ends."""
    hashed = _hasher.hash(check_password(password))
    async with db.session(workspace=ALL_WORKSPACES) as session:
        token = await users_repo.get_token(session, token_hash=_token_hash(secret[:200]), for_update=True)
        now = utcnow()
        if token is None or token.purpose != purpose.value or token.used_at is not None or token.expires_at <= now:
            raise TokenInvalid("this link is unknown, used or expired: ask for a new one")
        user = await users_repo.get_user(session, user_id=token.user_id, for_update=True)
        assert user is not None
        if user.disabled_at is not None:
            raise TokenInvalid("this account is disabled")
        token.used_at = now
        user.password_hash = hashed
        user.session_epoch += 1
        user.last_login_at = now
        session.add(token)
        session.add(user)
        return UserOut.of(user)


async def set_password(db: Database, *, email: str, password: str) -> UserOut:
    """The CLI's recovery path (an admin locked out): sets the password and ends every session."""
    hashed = _hasher.hash(check_password(password))
    async with db.session(workspace=ALL_WORKSPACES) as session:
        user = await users_repo.get_user(session, email=email, for_update=True)
        if user is None:
            raise UserNotFound(f"no user {email.strip().lower()}")
        user.password_hash, user.disabled_at = hashed, None
        user.session_epoch += 1
        session.add(user)
        return UserOut.of(user)


async def change_role(
    db: Database, *, user_id: int, workspace_id: int, role: ApiRole | None = None, disable: bool = False
) -> UserOut:
    """Change a role or disable an account of the workspace (another workspace's user is not found); the
    workspace's last active admin cannot be demoted or disabled."""
    async with db.session() as session:
        user = await users_repo.get_user(session, user_id=user_id, workspace_id=workspace_id, for_update=True)
        if user is None:
            raise UserNotFound(f"no user {user_id}")
        demotes = user.role == ApiRole.admin.value and (disable or (role is not None and role is not ApiRole.admin))
        if (
            demotes
            and user.disabled_at is None
            and await users_repo.count_admins(session, workspace_id=workspace_id) <= 1
        ):
            raise LastAdmin("the last admin cannot be demoted or disabled")
        if role is not None:
            user.role = role.value
        if disable:
            user.disabled_at = utcnow()
            user.session_epoch += 1  # every session of a disabled user ends now (a new role applies at once anyway)
        session.add(user)
        return UserOut.of(user)
