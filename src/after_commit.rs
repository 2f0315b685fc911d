//! What a committed change means for the people watching: the writer
//! reports each one here (`db::writer::AfterCommit`), in commit order, and
//! the live side acts on it. The hub publishes stored events, tells the
//! lobby, forgets access it remembered that the change made stale; a
//! deleted room's GIF files are removed from disk.

use std::path::PathBuf;

use crate::{
    db::{
        presence::PresenceDone,
        writer::{AfterCommit, Changed},
    },
    hub::Hub,
    model::{EventRecord, Present, RoomRow, Unread, User},
    uploads,
};

pub struct LiveSide {
    pub hub: Hub,
    /// Where a deleted room's files are removed from.
    pub uploads_dir: PathBuf,
}

impl AfterCommit for LiveSide {
    fn started(&self, newest_id: i64, present: &[Present]) {
        self.hub.started(newest_id, present);
    }

    fn stored(&self, record: &EventRecord) {
        self.hub.publish_stored(record);
    }

    fn room_created(&self, room: &RoomRow) {
        self.hub.room_created(room);
    }

    fn room_changed(&self, room: &RoomRow) {
        self.hub.room_changed(room);
    }

    fn room_deleted(&self, room_id: &str, existed: bool, gifs: &[String]) {
        if existed {
            self.hub.room_deleted(room_id);
        }
        uploads::remove_files(&self.uploads_dir, gifs);
    }

    fn owner_changed(&self, room_id: &str, owner: &User) {
        self.hub.owner_changed(room_id, owner);
    }

    fn banned(&self, room_id: &str, user_id: &str) {
        self.hub.kicked(room_id, user_id);
    }

    fn admitted(&self, room_id: &str, user_id: &str) {
        self.hub.admitted(room_id, user_id);
    }

    fn renamed(&self, user: &User) {
        self.hub.renamed(user);
    }

    fn typing(&self, room_id: &str, user: &User) {
        self.hub.typing(room_id, user);
    }

    fn read(&self, moved: &[Unread]) {
        self.hub.read(moved);
    }

    fn gif_erased(&self, url: &str) {
        uploads::remove_files(&self.uploads_dir, &[url.to_owned()]);
    }

    /// This node's own rounds are in the hub already; a dead node's,
    /// removed here, are news.
    fn presence(&self, done: &PresenceDone) {
        if let Some(node) = &done.node {
            for user in &done.arrived {
                self.hub.presence_elsewhere(&done.room, node, user, true);
            }
            for user in &done.departed {
                self.hub.presence_elsewhere(&done.room, node, user, false);
            }
        }
    }

    /// Another node's change, as if made here, except what that node did
    /// already: the files of a deleted room (the folder is shared).
    fn changed_elsewhere(&self, change: &Changed) {
        match change {
            Changed::RoomCreated(room) => self.hub.room_created(room),
            Changed::RoomChanged(room) => self.hub.room_changed(room),
            Changed::RoomDeleted { room_id } => self.hub.room_deleted(room_id),
            Changed::Owner { room_id, owner } => self.hub.owner_changed(room_id, owner),
            Changed::Banned { room_id, user_id } => self.hub.kicked(room_id, user_id),
            Changed::Admitted { room_id, user_id } => self.hub.admitted(room_id, user_id),
            Changed::Read(moved) => self.hub.read(std::slice::from_ref(moved)),
            Changed::Renamed(user) => self.hub.renamed(user),
            Changed::Presence {
                room,
                node,
                user,
                arrived,
            } => self.hub.presence_elsewhere(room, node, user, *arrived),
        }
    }
}
