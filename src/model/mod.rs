//! Plain data shared by storage, the hub, the routes and the views: rooms,
//! users, events, the members snapshot, sessions. No behaviour beyond what
//! the data says of itself (a user's color, who may see an event), and no
//! dependency on any layer: everything may use these, they use nothing.

mod event;
mod members;
mod room;
mod session;
mod user;

pub use event::{
    Audience, EventRecord, GifInfo, Kind, NewEvent, Quote, Reactions, RoomEvent, RoomNotice,
};
pub use members::{MembersEvent, MembersSnapshot, Present, heir_notice, presence_notice};
pub use room::{Access, ReadMark, Room, RoomRow, Unread};
pub use session::SessionRow;
pub use user::{User, colors_of};
